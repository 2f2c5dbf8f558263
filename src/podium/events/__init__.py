"""CloudEvents in and out of workflows."""
