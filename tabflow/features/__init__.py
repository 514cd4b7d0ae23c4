"""Raw columns to the network's float32 matrix: dtype coercion, encoders, the fitted preprocessor and its numpy
replay."""
