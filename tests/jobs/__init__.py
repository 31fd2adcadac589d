"""Tests of the jobs domain: queue, worker, scheduler, worker process."""
