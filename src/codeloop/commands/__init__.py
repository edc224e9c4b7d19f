"""One module per `codeloop` subcommand: `register(subparsers)` and `handle(args, console)`."""
