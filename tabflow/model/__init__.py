"""The network, its search space and tuning, and the baselines and plots it is evaluated with."""
