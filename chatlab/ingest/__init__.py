"""The watch folder: which files are VODs, their ids, their chat exports, their fingerprints."""
