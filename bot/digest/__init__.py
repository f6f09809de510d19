"""Report -> platform-neutral digest and answers, and one renderer per platform."""
