from s3rb_tui.cli import main

raise SystemExit(main())
