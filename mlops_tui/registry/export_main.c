/* Predict with the exported model: CSV rows of model inputs on stdin, one line of predictions out.
 *
 * Build:  cc -O2 -o predict main.c model.c -lm
 * Run:    ./predict < rows.csv
 *
 * Input: one row per line, the model's features in the order README.md lists them, already
 * encoded: numbers as they are, categories as their integer codes; an empty field, NA or NaN is a
 * missing value. A first line that starts with text (a header) is skipped.
 * Output: comma-separated, one line per input row: the probability of each class (one value,
 * the positive class, for a binary model) or the predicted value, with 17 significant digits.
 * A malformed row stops the program with exit 1 and a message naming the line.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <math.h>

#include "model.h"

#define MAX_LINE (1 << 20)

static char *trim(char *s) {
  char *end;
  while (isspace((unsigned char)*s)) s++;
  end = s + strlen(s);
  while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
  return s;
}

static int is_missing(const char *field) {
  return *field == '\0' || strcasecmp(field, "NA") == 0 || strcasecmp(field, "NaN") == 0;
}

/* A first line whose first field is text (not a number, not a missing value) is a header. */
static int is_header(const char *line) {
  char first[256], *end;
  size_t len = strcspn(line, ",");
  if (len >= sizeof first) len = sizeof first - 1;
  memcpy(first, line, len);
  first[len] = '\0';
  char *field = trim(first);
  if (is_missing(field)) return 0;
  strtod(field, &end);
  return *end != '\0';
}

/* Fills row[0..n) from one CSV line; returns 0, or -1 after saying what is wrong. */
static int parse_row(char *line, union Entry *row, int n, long lineno) {
  char *p = line;
  for (int i = 0; i < n; ++i) {
    size_t len = strcspn(p, ",");
    int last = p[len] == '\0';
    char *end;
    double v;
    p[len] = '\0';
    char *field = trim(p);
    if (last != (i == n - 1)) {
      fprintf(stderr, "line %ld: %s fields; the model reads %d\n", lineno, last ? "too few" : "too many", n);
      return -1;
    }
    if (is_missing(field)) {
      row[i].missing = -1;
    } else {
      v = strtod(field, &end);
      if (*end != '\0' || isnan(v)) {
        fprintf(stderr, "line %ld, field %d: %s is not a number\n", lineno, i + 1, field);
        return -1;
      }
      row[i].fvalue = v;
    }
    p += len + 1;
  }
  return 0;
}

int main(void) {
  const int n = get_num_feature();
  int32_t n_out = 1;
  long lineno = 0;
  char *line = malloc(MAX_LINE);
  union Entry *row = malloc(sizeof(union Entry) * (size_t)n);
  double result[MAX_N_CLASS];
  get_num_class(&n_out);
  if (!line || !row) return 2;
  while (fgets(line, MAX_LINE, stdin)) {
    ++lineno;
    line[strcspn(line, "\r\n")] = '\0';
    if (*trim(line) == '\0') continue;
    if (lineno == 1 && is_header(line)) continue;
    if (parse_row(line, row, n, lineno) != 0) return 1;
    for (int k = 0; k < MAX_N_CLASS; ++k) result[k] = 0.0;
    predict(row, 0, result);
    for (int k = 0; k < n_out; ++k) printf(k ? ",%.17g" : "%.17g", result[k]);
    putchar('\n');
  }
  free(row);
  free(line);
  return 0;
}
