/*
 * langs.c - a table of common languages (ISO 639-1 codes and their
 * English names), for XLSForm headers without a code and for naming an
 * XForm's translations.
 */
#include <stdio.h>
#include <string.h>

#include "langs.h"

static const char *const table[][2] = {
    {"af", "Afrikaans"}, {"am", "Amharic"},    {"ar", "Arabic"},
    {"bg", "Bulgarian"}, {"bn", "Bengali"},    {"bs", "Bosnian"},
    {"ca", "Catalan"},   {"cs", "Czech"},      {"da", "Danish"},
    {"de", "German"},    {"el", "Greek"},      {"en", "English"},
    {"es", "Spanish"},   {"fa", "Persian"},    {"fi", "Finnish"},
    {"fr", "French"},    {"ha", "Hausa"},      {"he", "Hebrew"},
    {"hi", "Hindi"},     {"hr", "Croatian"},   {"hu", "Hungarian"},
    {"hy", "Armenian"},  {"id", "Indonesian"}, {"it", "Italian"},
    {"ja", "Japanese"},  {"ka", "Georgian"},   {"ko", "Korean"},
    {"ku", "Kurdish"},   {"ln", "Lingala"},    {"ms", "Malay"},
    {"ne", "Nepali"},    {"nl", "Dutch"},      {"no", "Norwegian"},
    {"pl", "Polish"},    {"ps", "Pashto"},     {"pt", "Portuguese"},
    {"ro", "Romanian"},  {"ru", "Russian"},    {"rw", "Kinyarwanda"},
    {"so", "Somali"},    {"sq", "Albanian"},   {"sr", "Serbian"},
    {"sv", "Swedish"},   {"sw", "Swahili"},    {"th", "Thai"},
    {"ti", "Tigrinya"},  {"tl", "Tagalog"},    {"tr", "Turkish"},
    {"uk", "Ukrainian"}, {"ur", "Urdu"},       {"vi", "Vietnamese"},
    {"wo", "Wolof"},     {"xh", "Xhosa"},      {"yo", "Yoruba"},
    {"zh", "Chinese"},   {"zu", "Zulu"},
};

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* A code: [a-z]{2,3} (any case) with an optional -[A-Za-z0-9]{1,8}. */
static int code_syntax(const char *s, size_t n)
{
    size_t i = 0, k;

    while (i < n && lower(s[i]) >= 'a' && lower(s[i]) <= 'z')
        i++;
    if (i < 2 || i > 3)
        return 0;
    if (i == n)
        return 1;
    if (s[i] != '-')
        return 0;
    for (k = ++i; k < n && ((lower(s[k]) >= 'a' && lower(s[k]) <= 'z') ||
                            (s[k] >= '0' && s[k] <= '9'));)
        k++;
    return k == n && k - i >= 1 && k - i <= 8;
}

static int put_code(const char *s, size_t n, char *out, size_t cap)
{
    const char *dash = memchr(s, '-', n);
    size_t i, lang = dash != NULL ? (size_t)(dash - s) : n;

    if (!code_syntax(s, n) || n + 1 > cap)
        return -1;
    /* The language part in lower case, the rest as written (pt-BR). */
    for (i = 0; i < n; i++)
        out[i] = i < lang ? lower(s[i]) : s[i];
    out[n] = '\0';
    return 0;
}

int hub__lang_code(const char *spec, char *out, size_t cap)
{
    size_t n = strlen(spec), i;
    const char *open;

    while (n > 0 && spec[n - 1] == ' ')
        n--;
    while (n > 0 && spec[0] == ' ') {
        spec++;
        n--;
    }
    /* "English (en)" */
    open = n > 0 && spec[n - 1] == ')' ? memchr(spec, '(', n) : NULL;
    if (open != NULL)
        return put_code(open + 1, (size_t)(spec + n - 1 - (open + 1)), out,
                        cap);
    /* "english", "French" */
    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *name = table[i][1];
        size_t k;

        if (strlen(name) != n)
            continue;
        for (k = 0; k < n && lower(name[k]) == lower(spec[k]); k++)
            ;
        if (k == n)
            return put_code(table[i][0], 2, out, cap);
    }
    /* "fr", "pt-BR" */
    return put_code(spec, n, out, cap);
}

const char *hub__lang_name(const char *code)
{
    size_t n = strcspn(code, "-");

    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strlen(table[i][0]) == n && strncmp(table[i][0], code, n) == 0)
            return table[i][1];
    return NULL;
}
