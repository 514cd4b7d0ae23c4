"""Whether a challenger replaces the champion: the gate's rules, the bootstrap, the decision, registry moves and
promotion by hand."""
