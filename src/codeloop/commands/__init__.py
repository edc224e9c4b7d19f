"""One module per `codeloop` subcommand, each with `register(subparsers)` and `handle(args, console)`."""
