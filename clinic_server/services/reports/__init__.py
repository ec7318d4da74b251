"""Employer reports (IMR): aggregates nobody can be singled out from.

``definitions`` says what a report holds and who counts in each table; ``bounds`` what a reader can
work out from published numbers; ``disclosure`` what may be published (and, with
``access.policy.may_aggregate``, whether a report may be issued at all); ``formats`` writes a
report as JSON, CSV or Markdown. All of it is pure: the database queries and the API come on top
(docs/reports.md).
"""
