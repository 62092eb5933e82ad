/*
 * unit.h - the harness of the unit test programs: a table of named cases,
 * run all or the one named by argv[1], "ok - name" / "FAIL - name: why"
 * on stdout, exit 1 on any failure and 2 when no case has that name.
 *
 * Header only: each test program is one translation unit.
 */
#ifndef FS_UNIT_H
#define FS_UNIT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct unit_case {
    const char *name;
    int (*fn)(void); /* 0: passed; non-zero after failf() */
} unit_case;

static char fail_msg[1024];

static int failf(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));

/* Records why the current case failed; returns 1 so a case can
 * `return failf(...)`. */
static int failf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    int w = snprintf(fail_msg, sizeof(fail_msg), "%s:%d: ", file, line);

    if (w < 0 || (size_t)w >= sizeof(fail_msg))
        return 1;
    va_start(ap, fmt);
    vsnprintf(fail_msg + w, sizeof(fail_msg) - (size_t)w, fmt, ap);
    va_end(ap);
    return 1;
}

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            return failf(__FILE__, __LINE__, "%s", #cond);                     \
    } while (0)

static char *unit_slurp(const char *path, size_t *len) __attribute__((unused));

/* The whole file at path, NUL-terminated (caller frees), its length in
 * *len; NULL when it cannot be read. */
static char *unit_slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (fp == NULL)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
        fseek(fp, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf != NULL && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        if (buf != NULL) {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(fp);
    return buf;
}

static int unit_run(const unit_case *cases, size_t n, int argc, char **argv)
    __attribute__((unused));

static int unit_run(const unit_case *cases, size_t n, int argc, char **argv)
{
    size_t i, ran = 0;
    int failed = 0;

    for (i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        ran++;
        fail_msg[0] = '\0';
        if (cases[i].fn() != 0) {
            printf("FAIL - %s: %s\n", cases[i].name, fail_msg);
            failed = 1;
        } else {
            printf("ok - %s\n", cases[i].name);
        }
        fflush(stdout);
    }
    if (ran == 0) {
        fprintf(stderr, "no test named '%s'\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    return failed;
}

#endif
