"""Assessment: what a person decides about a case and its items, and who may decide it.

- ``service``: verdicts (confirmed, not illegal, second opinion) on one item or all, with the
  classification of each scheme; adding the confirmed items' hashes to a bank; listing a
  dedicated host; reversing a confirmation (which cancels notices and withdraws list entries).
- ``classification``: the schemes (INHOPE, UK category, industry A1-B2, age band, imagery) and
  the rules an assessment must meet, checked before anything is saved.
- ``approvals``: four eyes. The actions named in ``four_eyes_actions`` wait as an approval
  holding the first person's whole decision until a second person approves or rejects it.
- ``queue``: the cases waiting for a person, in order, and "next case", which two analysts
  cannot both take.

The console's pages and the JSON API (``assessment.api``) call the same functions here.
"""
