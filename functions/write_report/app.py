"""WriteReport: the run's counts by finding kind, fixes, refusals and failures (S3 and the output)."""

from linkflow_shared.deps import Deps
from linkflow_shared.reconcile import Report, ReportInput, write_report
from linkflow_shared.step import step


@step(ReportInput)
def handler(run: ReportInput, deps: Deps) -> Report:
    return write_report(run, store=deps.snapshots)
