from labelop.cli import main

main()
