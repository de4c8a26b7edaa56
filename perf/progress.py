"""A one-line progress bar on stderr, for the commands that take a while."""

import sys
import time


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total):
        self.total, self.done, self.start = total, 0, time.time()

    def advance(self, label):
        self.done += 1
        width = 30
        filled = width * self.done // max(self.total, 1)
        elapsed = time.time() - self.start
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {elapsed:5.0f}s {label[:60]:<60}"
        )
        sys.stderr.flush()
        if self.done == self.total:
            sys.stderr.write("\n")
