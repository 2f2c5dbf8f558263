"""The pipeline's test step: run the unit tests of the checked-out workspace.

Usage: python run_tests.py WORKSPACE. Prints one JSON line, {"tests": N,
"failures": F, "errors": E}; exits 1 when a test failed (the task then faults
with this script's stderr in its error)."""

import json
import sys
import unittest

workspace = sys.argv[1]
sys.path.insert(0, workspace)
suite = unittest.defaultTestLoader.discover(workspace, pattern="test_*.py")
result = unittest.TextTestRunner(stream=sys.stderr, verbosity=1).run(suite)
print(json.dumps({"tests": result.testsRun, "failures": len(result.failures),
                  "errors": len(result.errors)}))
sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
