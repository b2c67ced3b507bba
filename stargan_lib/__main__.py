"""`python -m stargan_lib` is the same as the `stargan` command."""

from stargan_lib.cli import main

raise SystemExit(main())
