package main

// version must equal golat.__version__ (golat/_version.py); tests/test_native.py checks it.
const version = "0.1.0"
