"""Sub-commands of ``stix-assets`` (each: ``add_parser(subparsers)`` and ``run(args) -> int``)."""
