"""Studies: experiments that decide *why* a reproduction's claim does or does not show.

Each module is runnable as ``python -m experiments.studies.<name> --out DIR``, resumable
(work whose output exists is skipped; files are written atomically), and documented in
the section of ``docs/`` that reports it.
"""
