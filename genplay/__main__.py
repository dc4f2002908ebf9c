import sys

from genplay.cli import main

sys.exit(main())
