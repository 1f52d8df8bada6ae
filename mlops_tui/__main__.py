from mlops_tui.cli import main

main()
