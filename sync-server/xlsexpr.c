/*
 * xlsexpr.c - XLSForm relevant and constraint expressions into fieldsync
 * conditions: a tokenizer and a recursive-descent parser of the XPath
 * subset xlsexpr.h lists. Each construct maps to a condition that means
 * the same for every answer, unanswered questions included (FORMS.md,
 * section 5: != is not(eq), string-length of an unanswered question is
 * 0); what cannot is refused with the reason.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlsexpr.h"

#define EXPR_DEPTH_MAX 32 /* parentheses and not() nesting */
#define EXPR_NAME_MAX 96  /* ${name} and function names */

enum {
    T_END,
    T_LPAR,
    T_RPAR,
    T_COMMA,
    T_DOT,
    T_REF,
    T_NUM,
    T_STR,
    T_NAME,
    T_OP,
    T_ARITH,
    T_BAD
};

typedef struct tok {
    int kind;
    const char *s; /* the token's text in the expression */
    size_t n;
} tok;

/* A parsed piece: a condition, or an operand of a comparison. */
enum { V_NONE, V_COND, V_REF, V_NUM, V_STR, V_DATE, V_LEN, V_COUNT };

typedef struct val {
    int kind;
    cJSON *cond;                  /* V_COND */
    hub__xlsexpr_ref ref;         /* V_REF, V_LEN, V_COUNT */
    int self;                     /* the ref is `.` */
    char name[EXPR_NAME_MAX + 4]; /* "${name}" for messages */
    double num;                   /* V_NUM */
    char *text;                   /* V_STR, V_DATE: owned */
} val;

typedef struct px {
    const char *src;
    size_t pos;
    tok cur;
    int depth;
    int rc; /* FS_OK until the first problem */
    char *why;
    size_t whycap;
    const hub__xlsexpr_ref *self;
    hub__xlsexpr_lookup lookup;
    void *ud;
} px;

static void val_free(val *v)
{
    cJSON_Delete(v->cond);
    free(v->text);
    memset(v, 0, sizeof *v);
}

static void refuse(px *x, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(px *x, int rc, const char *fmt, ...)
{
    va_list ap;

    if (x->rc != FS_OK)
        return;
    x->rc = rc;
    va_start(ap, fmt);
    if (vsnprintf(x->why, x->whycap, fmt, ap) < 0 && x->whycap > 0)
        x->why[0] = '\0';
    va_end(ap);
}

/* ---- tokens ---------------------------------------------------------- */

static int name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first &&
            ((c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':'));
}

static void next(px *x)
{
    const char *s = x->src;
    size_t i = x->pos, k;
    tok *t = &x->cur;

    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    t->s = s + i;
    t->n = 1;
    if (s[i] == '\0') {
        t->kind = T_END;
        t->n = 0;
    } else if (s[i] == '(') {
        t->kind = T_LPAR;
    } else if (s[i] == ')') {
        t->kind = T_RPAR;
    } else if (s[i] == ',') {
        t->kind = T_COMMA;
    } else if (s[i] == '$' && s[i + 1] == '{') {
        for (k = i + 2; s[k] != '\0' && s[k] != '}'; k++)
            ;
        t->kind = s[k] == '}' ? T_REF : T_BAD;
        t->n = k - i + (s[k] == '}');
    } else if (s[i] == '.' && s[i + 1] == '.') {
        t->kind = T_BAD;
        t->n = 2;
    } else if ((s[i] >= '0' && s[i] <= '9') ||
               (s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9')) {
        for (k = i; (s[k] >= '0' && s[k] <= '9') || s[k] == '.'; k++)
            ;
        t->kind = T_NUM;
        t->n = k - i;
    } else if (s[i] == '.') {
        t->kind = T_DOT;
    } else if (s[i] == '\'' || s[i] == '"') {
        for (k = i + 1; s[k] != '\0' && s[k] != s[i]; k++)
            ;
        t->kind = s[k] == s[i] ? T_STR : T_BAD;
        t->n = k - i + (s[k] == s[i]);
    } else if (s[i] == '!' && s[i + 1] == '=') {
        t->kind = T_OP;
        t->n = 2;
    } else if (s[i] == '=') {
        t->kind = T_OP;
    } else if (s[i] == '<' || s[i] == '>') {
        t->kind = T_OP;
        t->n = s[i + 1] == '=' ? 2 : 1;
    } else if (s[i] == '+' || s[i] == '-' || s[i] == '*' || s[i] == '|') {
        t->kind = T_ARITH;
    } else if (s[i] == '/') {
        /* a path (/data/age): refused whole, so the message quotes it */
        for (k = i + 1; s[k] == '/' || name_char(s[k], 0); k++)
            ;
        t->kind = T_BAD;
        t->n = k - i;
    } else if (name_char(s[i], 1)) {
        for (k = i + 1; name_char(s[k], 0); k++)
            ;
        t->kind = T_NAME;
        t->n = k - i;
    } else {
        t->kind = T_BAD;
    }
    x->pos = (size_t)(t->s - s) + t->n;
}

static int tok_is(const tok *t, int kind, const char *text)
{
    return t->kind == kind && strlen(text) == t->n &&
           strncmp(t->s, text, t->n) == 0;
}

/* The token for messages: at most 40 bytes of it. */
static const char *tok_text(const tok *t, char *buf, size_t cap)
{
    size_t n = t->n < 40 ? t->n : 40;

    if (t->kind == T_END)
        return "the end";
    snprintf(buf, cap, "'%.*s'%s", (int)n, t->s, t->n > n ? "..." : "");
    return buf;
}

static void unexpected(px *x)
{
    char b[64];

    if (x->cur.kind == T_BAD && x->cur.s[0] == '/')
        refuse(x, FS_EMALFORMED,
               "paths such as %s are not supported: name questions as "
               "${name}",
               tok_text(&x->cur, b, sizeof b));
    else
        refuse(x, FS_EMALFORMED, "unexpected %s",
               tok_text(&x->cur, b, sizeof b));
}

/* ---- operands -------------------------------------------------------- */

static void parse_or(px *x, val *out);

static void ref_of(px *x, const tok *t, val *out)
{
    char name[EXPR_NAME_MAX];
    size_t n = t->n - 3; /* ${...} */
    int r;

    if (n == 0 || n >= sizeof name) {
        refuse(x, FS_EMALFORMED, "'%.*s' is not a question name",
               (int)(t->n < 40 ? t->n : 40), t->s);
        return;
    }
    memcpy(name, t->s + 2, n);
    name[n] = '\0';
    r = x->lookup(x->ud, name, &out->ref);
    if (r == -1) {
        refuse(x, FS_EMALFORMED, "${%s} names no question", name);
        return;
    }
    if (r == -2) {
        refuse(x, FS_EMALFORMED,
               "${%s} is ambiguous: several questions have that name", name);
        return;
    }
    if (r == -4) {
        refuse(x, FS_EMALFORMED,
               "${%s} is asked later: conditions look back at earlier "
               "questions only",
               name);
        return;
    }
    if (r != 0) {
        refuse(x, FS_EMALFORMED,
               "${%s} is a question fieldsync refuses (see its type)", name);
        return;
    }
    if (out->ref.type == 0) {
        refuse(x, FS_EMALFORMED, "${%s} is a group, not a question", name);
        return;
    }
    out->kind = V_REF;
    snprintf(out->name, sizeof out->name, "${%s}", name);
}

/* A string literal's text, without its quotes. */
static char *str_of(const tok *t)
{
    char *s = malloc(t->n - 1);

    if (s != NULL) {
        memcpy(s, t->s + 1, t->n - 2);
        s[t->n - 2] = '\0';
    }
    return s;
}

static void num_of(px *x, const tok *t, int negative, val *out)
{
    char buf[64], *end = NULL;

    if (t->n >= sizeof buf) {
        refuse(x, FS_EMALFORMED, "number too long");
        return;
    }
    memcpy(buf, t->s, t->n);
    buf[t->n] = '\0';
    out->num = strtod(buf, &end);
    if (end == buf || *end != '\0' || !isfinite(out->num)) {
        refuse(x, FS_EMALFORMED, "'%s' is not a number", buf);
        return;
    }
    if (negative)
        out->num = -out->num;
    out->kind = V_NUM;
}

/* The one operand of f(ref) or the first of f(ref, 'text'): a question. */
static int arg_ref(px *x, const char *fn, val *out)
{
    val a = {0};

    parse_or(x, &a);
    if (x->rc != FS_OK) {
        val_free(&a);
        return -1;
    }
    if (a.kind != V_REF) {
        refuse(x, FS_EMALFORMED, "%s() takes a question: . or ${name}", fn);
        val_free(&a);
        return -1;
    }
    *out = a;
    return 0;
}

static char *arg_str(px *x, const char *fn)
{
    char *s;

    if (x->cur.kind != T_COMMA) {
        refuse(x, FS_EMALFORMED, "%s() takes two arguments", fn);
        return NULL;
    }
    next(x);
    if (x->cur.kind != T_STR) {
        refuse(x, FS_EMALFORMED, "the second argument of %s() is a 'text'", fn);
        return NULL;
    }
    s = str_of(&x->cur);
    if (s == NULL)
        refuse(x, FS_ENOMEM, "out of memory");
    next(x);
    return s;
}

static cJSON *comparison(const val *ref, const char *op)
{
    cJSON *c = cJSON_CreateObject();

    if (c == NULL ||
        cJSON_AddStringToObject(c, "field", ref->ref.name) == NULL ||
        cJSON_AddStringToObject(c, "op", op) == NULL) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static cJSON *negate(cJSON *cond)
{
    cJSON *n;

    if (cond == NULL)
        return NULL;
    n = cJSON_CreateObject();
    if (n == NULL) {
        cJSON_Delete(cond);
        return NULL;
    }
    cJSON_AddItemToObject(n, "not", cond);
    return n;
}

static int add_value(px *x, cJSON *c, const val *ref, const val *lit);

static void call(px *x, const tok *fn, val *out)
{
    char name[EXPR_NAME_MAX];
    val r = {0};
    char *s = NULL;

    snprintf(name, sizeof name, "%.*s", (int)fn->n, fn->s);
    if (++x->depth > EXPR_DEPTH_MAX) {
        refuse(x, FS_ETOOBIG, "nested more than %d deep", EXPR_DEPTH_MAX);
        return;
    }
    next(x); /* past ( */
    if (strcmp(name, "not") == 0) {
        parse_or(x, &r);
        if (x->rc == FS_OK && r.kind != V_COND)
            refuse(x, FS_EMALFORMED, "not() takes a condition");
        if (x->rc == FS_OK) {
            out->kind = V_COND;
            out->cond = negate(r.cond);
            r.cond = NULL;
            if (out->cond == NULL)
                refuse(x, FS_ENOMEM, "out of memory");
        }
    } else if (strcmp(name, "selected") == 0) {
        if (arg_ref(x, name, &r) == 0)
            s = arg_str(x, name);
        if (s != NULL && r.ref.type != FS_FIELD_SELECT_ONE &&
            r.ref.type != FS_FIELD_SELECT_MULTIPLE &&
            r.ref.type != FS_FIELD_LIKERT)
            refuse(x, FS_EMALFORMED,
                   "selected() tests a select question; %s "
                   "is not one",
                   r.name);
        if (s != NULL && x->rc == FS_OK) {
            int multi = r.ref.type == FS_FIELD_SELECT_MULTIPLE;
            val lit = {0};

            lit.kind = V_STR;
            lit.text = s;
            out->kind = V_COND;
            out->cond = comparison(&r, multi ? "contains" : "eq");
            if (out->cond == NULL) {
                refuse(x, FS_ENOMEM, "out of memory");
            } else if (add_value(x, out->cond, &r, &lit) == -2) {
                refuse(x, FS_ENOMEM, "out of memory");
            }
        }
    } else if (strcmp(name, "regex") == 0) {
        char *pat = NULL;

        if (arg_ref(x, name, &r) == 0)
            s = arg_str(x, name);
        if (s != NULL && r.ref.type != FS_FIELD_TEXT)
            refuse(x, FS_EMALFORMED,
                   "regex() tests a text question; %s is "
                   "not one",
                   r.name);
        if (s != NULL && x->rc == FS_OK) {
            pat = hub__xlsexpr_pattern(s);
            out->kind = V_COND;
            out->cond = comparison(&r, "matches");
            if (pat == NULL || out->cond == NULL ||
                cJSON_AddStringToObject(out->cond, "value", pat) == NULL)
                refuse(x, FS_ENOMEM, "out of memory");
        }
        free(pat);
    } else if (strcmp(name, "string-length") == 0 ||
               strcmp(name, "count-selected") == 0) {
        int len = name[0] == 's';

        if (arg_ref(x, name, &r) == 0 &&
            r.ref.type != (len ? FS_FIELD_TEXT : FS_FIELD_SELECT_MULTIPLE))
            refuse(x, FS_EMALFORMED,
                   "%s() applies to a %s question; %s is "
                   "not one",
                   name, len ? "text" : "select_multiple", r.name);
        if (x->rc == FS_OK) {
            *out = r;
            memset(&r, 0, sizeof r);
            out->kind = len ? V_LEN : V_COUNT;
        }
    } else if (strcmp(name, "date") == 0) {
        if (x->cur.kind != T_STR) {
            refuse(x, FS_EMALFORMED, "date() takes a 'YYYY-MM-DD' text");
        } else {
            out->text = str_of(&x->cur);
            out->kind = V_DATE;
            if (out->text == NULL)
                refuse(x, FS_ENOMEM, "out of memory");
            next(x);
        }
    } else if (strcmp(name, "pulldata") == 0) {
        refuse(x, FS_EMALFORMED,
               "pulldata() reads an external CSV file, which fieldsync "
               "forms do not carry");
    } else if (strcmp(name, "search") == 0) {
        refuse(x, FS_EMALFORMED,
               "search() reads external choices, which fieldsync forms do "
               "not carry");
    } else if (strcmp(name, "true") == 0 || strcmp(name, "false") == 0) {
        refuse(x, FS_EMALFORMED,
               "%s() is not a condition fieldsync can carry here: leave "
               "the cell empty for always",
               name);
    } else {
        refuse(x, FS_EMALFORMED,
               "%s() is not supported: a fieldsync condition compares "
               "answers with fixed values, with selected, regex, "
               "string-length and count-selected only",
               name);
    }
    free(s);
    val_free(&r);
    if (x->rc == FS_OK && x->cur.kind != T_RPAR)
        unexpected(x);
    if (x->rc == FS_OK) {
        next(x);
        x->depth--;
    }
}

static void parse_primary(px *x, val *out)
{
    tok t = x->cur;

    memset(out, 0, sizeof *out);
    switch (t.kind) {
    case T_LPAR:
        if (++x->depth > EXPR_DEPTH_MAX) {
            refuse(x, FS_ETOOBIG, "nested more than %d deep", EXPR_DEPTH_MAX);
            return;
        }
        next(x);
        parse_or(x, out);
        if (x->rc == FS_OK && x->cur.kind != T_RPAR)
            unexpected(x);
        if (x->rc == FS_OK) {
            next(x);
            x->depth--;
        }
        return;
    case T_DOT:
        if (x->self == NULL) {
            refuse(x, FS_EMALFORMED,
                   "'.' is the question's own answer, which only a "
                   "constraint tests");
            return;
        }
        out->kind = V_REF;
        out->self = 1;
        out->ref = *x->self;
        snprintf(out->name, sizeof out->name, ".");
        next(x);
        return;
    case T_REF:
        ref_of(x, &t, out);
        next(x);
        return;
    case T_NUM:
        num_of(x, &t, 0, out);
        next(x);
        return;
    case T_STR:
        out->kind = V_STR;
        out->text = str_of(&t);
        if (out->text == NULL)
            refuse(x, FS_ENOMEM, "out of memory");
        next(x);
        return;
    case T_ARITH:
        next(x);
        if (tok_is(&t, T_ARITH, "-") && x->cur.kind == T_NUM) {
            num_of(x, &x->cur, 1, out);
            next(x);
            return;
        }
        break;
    case T_NAME:
        next(x);
        if (x->cur.kind == T_LPAR) {
            call(x, &t, out);
            return;
        }
        if (tok_is(&t, T_NAME, "and") || tok_is(&t, T_NAME, "or")) {
            x->cur = t;
            break;
        }
        refuse(x, FS_EMALFORMED,
               "'%.*s' is a path, which is not supported: name questions "
               "as ${name} and texts in quotes",
               (int)(t.n < 40 ? t.n : 40), t.s);
        return;
    default:
        break;
    }
    if (t.kind == T_ARITH)
        refuse(x, FS_EMALFORMED, "arithmetic (%.1s) is not supported", t.s);
    else {
        x->cur = t;
        unexpected(x);
    }
}

/* ---- comparisons ----------------------------------------------------- */

static const char *flip(const char *op)
{
    if (strcmp(op, "<") == 0)
        return ">";
    if (strcmp(op, "<=") == 0)
        return ">=";
    if (strcmp(op, ">") == 0)
        return "<";
    if (strcmp(op, ">=") == 0)
        return "<=";
    return op;
}

static const char *op_name(const char *op)
{
    static const char *const map[][2] = {{"=", "eq"}, {"!=", "ne"},
                                         {"<", "lt"}, {"<=", "le"},
                                         {">", "gt"}, {">=", "ge"}};

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], op) == 0)
            return map[i][1];
    return "eq";
}

static int is_literal(const val *v)
{
    return v->kind == V_NUM || v->kind == V_STR || v->kind == V_DATE;
}

static int is_operand(const val *v)
{
    return v->kind == V_REF || v->kind == V_LEN || v->kind == V_COUNT;
}

/* The literal as a value of the question's type, added to c as "value". */
static int add_value(px *x, cJSON *c, const val *ref, const val *lit)
{
    char buf[40], *end = NULL;
    double d;

    if (ref->ref.type == FS_FIELD_LIKERT && lit->kind != V_NUM) {
        /* A likert answer is the position of its choice, from 1. */
        for (size_t k = 0; k < ref->ref.ncodes; k++)
            if (strcmp(ref->ref.codes[k], lit->text) == 0)
                return cJSON_AddNumberToObject(c, "value", (double)(k + 1)) !=
                               NULL
                           ? 0
                           : -2;
        refuse(x, FS_EMALFORMED, "'%s' is not a choice of %s", lit->text,
               ref->name);
        return -1;
    }
    switch (ref->ref.type) {
    case FS_FIELD_INTEGER:
    case FS_FIELD_DECIMAL:
    case FS_FIELD_LIKERT:
        d = lit->num;
        if (lit->kind != V_NUM) {
            d = strtod(lit->text, &end);
            if (end == lit->text || *end != '\0' || !isfinite(d)) {
                refuse(x, FS_EMALFORMED, "%s is a number; '%s' is not one",
                       ref->name, lit->text);
                return -1;
            }
        }
        return cJSON_AddNumberToObject(c, "value", d) != NULL ? 0 : -2;
    case FS_FIELD_DATE:
    case FS_FIELD_DATETIME:
        if (lit->kind == V_NUM) {
            refuse(x, FS_EMALFORMED,
                   "%s is a date; compare it with date('YYYY-MM-DD')",
                   ref->name);
            return -1;
        }
        return cJSON_AddStringToObject(c, "value", lit->text) != NULL ? 0 : -2;
    default:
        if (lit->kind == V_NUM) {
            snprintf(buf, sizeof buf, "%.15g", lit->num);
            return cJSON_AddStringToObject(c, "value", buf) != NULL ? 0 : -2;
        }
        return cJSON_AddStringToObject(c, "value", lit->text) != NULL ? 0 : -2;
    }
}

static void compare(px *x, val *a, const char *op, val *b, val *out)
{
    cJSON *c = NULL;
    int r;

    if (is_literal(a) && is_operand(b)) {
        val *t = a;

        a = b;
        b = t;
        op = flip(op);
    }
    if (is_operand(a) && is_operand(b)) {
        refuse(x, FS_EMALFORMED,
               "%s is compared with %s: fieldsync compares a question with "
               "a fixed value only",
               a->name, b->name);
        return;
    }
    if (!is_operand(a) || !is_literal(b)) {
        refuse(x, FS_EMALFORMED,
               "a comparison needs a question (. or ${name}) on one side "
               "and a value on the other");
        return;
    }
    if (a->kind == V_LEN || a->kind == V_COUNT) {
        if (b->kind != V_NUM || b->num < 0 || b->num != floor(b->num)) {
            refuse(x, FS_EMALFORMED, "%s is compared with a whole number",
                   a->kind == V_LEN ? "string-length()" : "count-selected()");
            return;
        }
        c = comparison(a, op_name(op));
        if (c == NULL ||
            cJSON_AddStringToObject(
                c, "of", a->kind == V_LEN ? "length" : "count") == NULL ||
            cJSON_AddNumberToObject(c, "value", b->num) == NULL)
            goto nomem;
        out->kind = V_COND;
        out->cond = c;
        return;
    }
    if (b->kind == V_STR && b->text[0] == '\0') {
        /* '' is the unanswered question in XLSForm. */
        if (strcmp(op, "=") != 0 && strcmp(op, "!=") != 0) {
            refuse(x, FS_EMALFORMED, "'' is compared with = or != only");
            return;
        }
        c = comparison(a, "answered");
        if (c != NULL && strcmp(op, "=") == 0)
            c = negate(c);
        if (c == NULL)
            goto nomem;
        out->kind = V_COND;
        out->cond = c;
        return;
    }
    if (a->ref.type == FS_FIELD_SELECT_MULTIPLE) {
        refuse(x, FS_EMALFORMED,
               "%s is a select_multiple: test a choice with selected(%s, "
               "'code')",
               a->name, a->name);
        return;
    }
    if (a->ref.type == FS_FIELD_GEOPOINT) {
        refuse(x, FS_EMALFORMED,
               "%s is a geopoint: only whether it is answered can be "
               "tested (%s != '')",
               a->name, a->name);
        return;
    }
    /* != is not(=): true when the question is unanswered, as in
     * XLSForm; fieldsync's ne would be false then. */
    c = comparison(a, strcmp(op, "!=") == 0 ? "eq" : op_name(op));
    if (c == NULL)
        goto nomem;
    r = add_value(x, c, a, b);
    if (r != 0) {
        cJSON_Delete(c);
        if (r == -2)
            goto nomem;
        return;
    }
    if (strcmp(op, "!=") == 0) {
        c = negate(c);
        if (c == NULL)
            goto nomem;
    }
    out->kind = V_COND;
    out->cond = c;
    return;
nomem:
    cJSON_Delete(c);
    refuse(x, FS_ENOMEM, "out of memory");
}

static void parse_cmp(px *x, val *out)
{
    val a = {0}, b = {0};
    char op[3];

    parse_primary(x, &a);
    if (x->rc == FS_OK &&
        (x->cur.kind == T_ARITH || tok_is(&x->cur, T_NAME, "div") ||
         tok_is(&x->cur, T_NAME, "mod"))) {
        refuse(x, FS_EMALFORMED, "arithmetic (%.*s) is not supported",
               (int)x->cur.n, x->cur.s);
    }
    if (x->rc != FS_OK || x->cur.kind != T_OP) {
        *out = a;
        if (x->rc != FS_OK)
            val_free(out);
        return;
    }
    snprintf(op, sizeof op, "%.*s", (int)x->cur.n, x->cur.s);
    next(x);
    parse_primary(x, &b);
    if (x->rc == FS_OK &&
        (x->cur.kind == T_OP || x->cur.kind == T_ARITH ||
         tok_is(&x->cur, T_NAME, "div") || tok_is(&x->cur, T_NAME, "mod")))
        refuse(x, FS_EMALFORMED, "%s (%.*s) is not supported",
               x->cur.kind == T_OP ? "a chained comparison" : "arithmetic",
               (int)x->cur.n, x->cur.s);
    if (x->rc == FS_OK)
        compare(x, &a, op, &b, out);
    val_free(&a);
    val_free(&b);
}

/* ---- and, or --------------------------------------------------------- */

/* Joins a and b under "all" or "any", flattening joins of the same
 * kind so that and-chains do not nest. */
static void join(px *x, const char *kind, val *a, val *b)
{
    cJSON *list, *it;

    if (a->kind != V_COND || b->kind != V_COND) {
        refuse(x, FS_EMALFORMED,
               "%s joins conditions; one side is a bare value (compare a "
               "question with something, e.g. ${name} != '')",
               strcmp(kind, "all") == 0 ? "and" : "or");
        return;
    }
    list = cJSON_GetObjectItemCaseSensitive(a->cond, kind);
    if (list == NULL || cJSON_GetArraySize(a->cond) != 1) {
        cJSON *wrap = cJSON_CreateObject();

        list = cJSON_CreateArray();
        if (wrap == NULL || list == NULL) {
            cJSON_Delete(wrap);
            cJSON_Delete(list);
            refuse(x, FS_ENOMEM, "out of memory");
            return;
        }
        cJSON_AddItemToObject(wrap, kind, list);
        cJSON_AddItemToArray(list, a->cond);
        a->cond = wrap;
    }
    it = cJSON_GetObjectItemCaseSensitive(b->cond, kind);
    if (it != NULL && cJSON_GetArraySize(b->cond) == 1) {
        while (it->child != NULL)
            cJSON_AddItemToArray(list,
                                 cJSON_DetachItemViaPointer(it, it->child));
        cJSON_Delete(b->cond);
    } else {
        cJSON_AddItemToArray(list, b->cond);
    }
    b->cond = NULL;
}

/* A chain of next-level parts joined by word: "and" (all) binds closer
 * than "or" (any), as in XPath. */
static void parse_chain(px *x, val *out, const char *word, const char *kind,
                        void (*part)(px *, val *))
{
    part(x, out);
    while (x->rc == FS_OK && tok_is(&x->cur, T_NAME, word)) {
        val b = {0};

        next(x);
        part(x, &b);
        if (x->rc == FS_OK)
            join(x, kind, out, &b);
        val_free(&b);
    }
}

static void parse_and(px *x, val *out)
{
    parse_chain(x, out, "and", "all", parse_cmp);
}

static void parse_or(px *x, val *out)
{
    parse_chain(x, out, "or", "any", parse_and);
}

int hub__xlsexpr_condition(const char *expr, const hub__xlsexpr_ref *self,
                           hub__xlsexpr_lookup lookup, void *ud, cJSON **out,
                           char *why, size_t whycap)
{
    px x;
    val v = {0};

    *out = NULL;
    memset(&x, 0, sizeof x);
    x.src = expr;
    x.why = why;
    x.whycap = whycap;
    x.self = self;
    x.lookup = lookup;
    x.ud = ud;
    x.rc = FS_OK;
    if (whycap > 0)
        why[0] = '\0';
    next(&x);
    parse_or(&x, &v);
    if (x.rc == FS_OK && x.cur.kind != T_END)
        unexpected(&x);
    if (x.rc == FS_OK && v.kind == V_REF)
        refuse(&x, FS_EMALFORMED,
               "%s alone is not a condition (in XLSForm it is always "
               "true): compare it, e.g. %s != ''",
               v.name, v.name);
    else if (x.rc == FS_OK && v.kind != V_COND)
        refuse(&x, FS_EMALFORMED,
               "not a condition: compare a question "
               "with a value");
    if (x.rc != FS_OK) {
        val_free(&v);
        return x.rc;
    }
    *out = v.cond;
    return FS_OK;
}

char *hub__xlsexpr_pattern(const char *regex)
{
    size_t n = strlen(regex), lead = 0, trail = 0, back = 0;
    char *out;

    if (n > 0 && regex[0] == '^')
        lead = 1;
    /* A final $ that is not escaped anchors the end. */
    while (back + 2 <= n && regex[n - 2 - back] == '\\')
        back++;
    if (n > lead && regex[n - 1] == '$' && back % 2 == 0)
        trail = 1;
    out = malloc(n + 5);
    if (out == NULL)
        return NULL;
    snprintf(out, n + 5, "%s%.*s%s", lead ? "" : ".*", (int)(n - lead - trail),
             regex + lead, trail ? "" : ".*");
    return out;
}
