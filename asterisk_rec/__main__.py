from asterisk_rec.cli import main

raise SystemExit(main())
