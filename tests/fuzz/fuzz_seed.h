/* Seed corpora for the libFuzzer targets, made by the targets themselves
 * from real encoders so that they follow the formats (and their
 * checksums) as these change. A target run with FUZZ_WRITE_SEEDS=DIR
 * writes its seeds into DIR and exits before fuzzing; tests/layers/
 * 50-fuzz.sh does that before each run. Header-only: each target is one
 * translation unit. */
#ifndef RAFTCACHE_FUZZ_SEED_H
#define RAFTCACHE_FUZZ_SEED_H

#include <stdio.h>
#include <stdlib.h>

/* Writes one seed file DIR/NAME; a failure ends the program, as the run
 * that asked for the seeds cannot go on without them. */
static inline void fuzz_seed_write(const char *dir, const char *name,
                                   const void *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (len > 0 && fwrite(buf, 1, len, f) != len) ||
        fclose(f) != 0) {
        fprintf(stderr, "cannot write seed %s\n", path);
        exit(1);
    }
}

/* Seeds are wanted: the directory from the environment, or NULL. */
static inline const char *fuzz_seed_dir(void)
{
    return getenv("FUZZ_WRITE_SEEDS");
}

/* Defines the target's LLVMFuzzerInitialize: with FUZZ_WRITE_SEEDS set,
 * write_seeds(dir) writes the seeds and the process exits. */
#define FUZZ_SEEDS_INITIALIZE(write_seeds)                                 \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                     \
    {                                                                      \
        (void)argc;                                                        \
        (void)argv;                                                        \
        if (fuzz_seed_dir() != NULL) {                                     \
            write_seeds(fuzz_seed_dir());                                  \
            exit(0);                                                       \
        }                                                                  \
        return 0;                                                          \
    }

#endif
