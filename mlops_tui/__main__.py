from mlops_tui.entry import main

# Guarded: a Dask LocalCluster starts its workers by re-importing the main module (spawn).
if __name__ == "__main__":
    main()
