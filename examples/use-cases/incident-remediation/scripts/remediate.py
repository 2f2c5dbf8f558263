"""The remediation step: apply a runbook to a service.

Usage: python remediate.py FLEET_URL ALERT_ID SERVICE RUNBOOK. A real one would run
the runbook's commands; this one asks the fleet stand-in to apply it, and prints one
JSON line with what it did. A refusal exits 1 with the reason on stderr."""

import json
import sys
import urllib.error
import urllib.request

fleet, alert_id, service, runbook = sys.argv[1:5]
request = urllib.request.Request(
    f"{fleet}/remediations", method="POST",
    data=json.dumps({"alertId": alert_id, "service": service, "runbook": runbook}).encode(),
    headers={"Content-Type": "application/json", "Idempotency-Key": f"{alert_id}:{runbook}"},
)
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
except urllib.error.HTTPError as error:
    sys.exit(f"runbook {runbook} was refused for {service}: {error.code} {error.read().decode()}")
print(json.dumps({"runbook": runbook, "service": service, "applied": answer["applied"]}))
