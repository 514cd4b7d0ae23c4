"""Reading, validating, cleaning and splitting a table; column roles."""
