"""The `harnets` command line: argparse here only, typed calls below."""
