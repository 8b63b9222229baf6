from hcview.cli import main

raise SystemExit(main())
