"""Writes scenarios/psrp/**, scenarios/_preludes/psrp/*.yaml and requirements/psrp.yaml."""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_client  # noqa: E402
import gen_server  # noqa: E402
import lib  # noqa: E402
import reqs  # noqa: E402

for f in glob.glob(f"{lib.ROOT}/scenarios/psrp/*/*.yaml") + glob.glob(f"{lib.ROOT}/scenarios/_preludes/psrp/*.yaml"):
    os.remove(f)
gen_server.run()
gen_client.run()
lib.write_all()
covered = set()
for _, _, cov in lib.SCENARIOS.values():
    covered.update(cov)
unc = reqs.write(f"{lib.ROOT}/requirements/psrp.yaml", covered)
print(len(lib.SCENARIOS), "scenarios;", len(reqs.R), "requirements; uncovered MUST:", unc)
