"""The `keras-avl` command line: a thin shell over the library."""
