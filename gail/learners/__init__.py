"""What the reward model trains: the SB3 learner base and the VecEnv wrappers around its rollouts."""
