# The Go core carries the same string (go_core/version.go); a test checks they agree.
__version__ = "0.1.0"
