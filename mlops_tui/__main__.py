from mlops_tui.entry import main

main()
