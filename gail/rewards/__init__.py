"""Reward models: the transition discriminator, its input features, and the reward forms."""
