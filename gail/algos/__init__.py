"""The imitation algorithms (GAIL, DAC, AIRL, SQIL, IQ-Learn, DAgger, BC), the BC warm start, their configs.

An algorithm is a reward model (``gail.rewards``) plus a learner (``gail.learners``) plus a loss;
this package holds the loops that tie them together, read top to bottom."""
