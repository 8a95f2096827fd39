/* The synthetic DAI export's stand-in for OpenBLAS: a real shared library with the soname
 * libopenblas.so.0 and the one symbol its h2oaicore calls when its runtime starts. The export's
 * h2oaicore wheel installs it into the environment's lib/ folder, as conda does with OpenBLAS,
 * where the dynamic loader does not look: the shims' preload is what makes it found.
 * Built by scripts/build_openblas_stub.sh; the binary is committed beside this file. */
int openblas_get_num_threads(void) { return 1; }
