"""What the AWS Lambda target is made of. The pure parts (REPORT lines, packages, prices)
import no AWS library; ``client`` and ``resources`` import boto3 where they use it, so
that only ``coldbench run --target aws`` and ``coldbench cleanup --target aws`` load it.

- ``report``: Lambda's REPORT line, read and written.
- ``package``: deployment packages (zips) per runtime and architecture.
- ``cost``: what a plan costs, from the dated price table in ``coldbench/data``.
- ``client``: boto3 clients with bounded retries and endpoints for local stand-ins.
- ``resources``: the role, log groups and functions a run creates, and finding them by tag.
"""
