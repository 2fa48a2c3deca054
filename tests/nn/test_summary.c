/* tg_model_summary (LeNet's table, worked out by hand) and named layers: names carry
 * into parameter and checkpoint names, so inserting an unnamed layer before named ones
 * keeps a checkpoint loadable. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tapegrad.h"

static tg_model *lenet(bool named, bool extra_dropout)
{
    tg_model *m = tg_model_new(TG_F32, 1);
    const int64_t k5[2] = {5, 5}, k2[2] = {2, 2};
    bool ok = tg_model_add_conv2d(m, 1, 6, k5, NULL) == TG_OK &&
              (!named || tg_model_set_name(m, "conv1") == TG_OK) &&
              tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
              tg_model_add_max_pool2d(m, k2, NULL) == TG_OK &&
              tg_model_add_conv2d(m, 6, 16, k5, NULL) == TG_OK &&
              (!named || tg_model_set_name(m, "conv2") == TG_OK) &&
              tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
              tg_model_add_max_pool2d(m, k2, NULL) == TG_OK && tg_model_add_flatten(m) == TG_OK &&
              (!extra_dropout || tg_model_add_dropout(m, 0.25) == TG_OK) &&
              tg_model_add_dense(m, 256, 120, NULL) == TG_OK &&
              (!named || tg_model_set_name(m, "fc1") == TG_OK) &&
              tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
              tg_model_add_dense(m, 120, 84, NULL) == TG_OK &&
              (!named || tg_model_set_name(m, "fc2") == TG_OK) &&
              tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
              tg_model_add_dense(m, 84, 10, NULL) == TG_OK &&
              (!named || tg_model_set_name(m, "out") == TG_OK);
    CHECK(ok, "lenet built: %s", tg_last_error());
    return m;
}

/* the summary printed to a string */
static char *summary(const tg_model *m, int nd, const int64_t *shape, tg_status *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *st = tg_model_summary(m, nd, shape, f);
    fclose(f);
    return buf;
}

/* the line of layer i (starts with its index and a space) */
static const char *line_of(const char *text, int i)
{
    char key[16];
    snprintf(key, sizeof key, "\n%d ", i);
    const char *p = strstr(text, key);
    return p ? p + 1 : "";
}

static bool line_has(const char *text, int i, const char *a, const char *b, const char *c)
{
    const char *l = line_of(text, i), *e = strchr(l, '\n');
    size_t n = e ? (size_t)(e - l) : strlen(l);
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)n, l);
    return strstr(buf, a) && strstr(buf, b) && strstr(buf, c);
}

static void lenet_summary(void)
{
    tg_model *m = lenet(true, false);
    tg_status st;
    char *s = summary(m, 4, (int64_t[]){64, 1, 28, 28}, &st);
    CHECK(st == TG_OK, "summary: %s", tg_last_error());
    printf("%s", s);
    /* by hand: 28-5+1 = 24, /2 = 12, 12-5+1 = 8, /2 = 4, 16*4*4 = 256;
     * params 6*1*25+6 = 156, 16*6*25+16 = 2416, 256*120+120 = 30840, 120*84+84 = 10164,
     * 84*10+10 = 850; total 44426 */
    CHECK(line_has(s, 0, "conv1", "[64,6,24,24]", " 156"), "conv1 line");
    CHECK(line_has(s, 1, "relu", "[64,6,24,24]", " 0"), "relu line");
    CHECK(line_has(s, 2, "max_pool2d 2x2", "[64,6,12,12]", " 0"), "pool line");
    CHECK(line_has(s, 3, "conv2", "[64,16,8,8]", " 2416"), "conv2 line");
    CHECK(line_has(s, 5, "max_pool2d", "[64,16,4,4]", " 0"), "pool2 line");
    CHECK(line_has(s, 6, "flatten", "[64,256]", " 0"), "flatten line");
    CHECK(line_has(s, 7, "fc1", "dense 256->120", " 30840"), "fc1 line");
    CHECK(line_has(s, 9, "fc2", "[64,84]", " 10164"), "fc2 line");
    CHECK(line_has(s, 11, "out", "[64,10]", " 850"), "out line");
    CHECK(strstr(s, "parameters: 44426 in 10 tensors") != NULL, "total line");
    CHECK(tg_model_num_elements(m) == 44426, "num_elements agrees");
    free(s);
    /* an input that does not fit: the dense layer's error, naming it */
    s = summary(m, 4, (int64_t[]){64, 1, 32, 32}, &st);
    CHECK(st == TG_ESHAPE && strstr(tg_last_error(), "layer 7 'fc1'") &&
              strstr(tg_last_error(), "has 400 features, want 256"),
          "misfit: %s %s", tg_status_name(st), tg_last_error());
    free(s);
    CHECK(tg_model_summary(m, 0, NULL, stdout) == TG_EINVAL, "rank 0 refused");
    CHECK(tg_model_summary(NULL, 2, (int64_t[]){1, 2}, stdout) == TG_EINVAL, "NULL model refused");
    tg_model_free(&m);
}

static void names(void)
{
    tg_model *m = tg_model_new(TG_F64, 1);
    CHECK(tg_model_set_name(m, "a") == TG_ESTATE, "no layer yet");
    tg_model_add_dense(m, 3, 4, NULL);
    CHECK(!strcmp(tg_model_param_name(m, 0), "0.weight"), "positional by default");
    CHECK(tg_model_set_name(m, "12") == TG_EINVAL, "all digits refused");
    CHECK(tg_model_set_name(m, "a.b") == TG_EINVAL, "dot refused");
    CHECK(tg_model_set_name(m, "") == TG_EINVAL, "empty refused");
    CHECK(tg_model_set_name(m, "abcdefghijabcdefghijabcdefghijabc") == TG_EINVAL, "too long refused");
    CHECK(tg_model_set_name(m, "enc") == TG_OK, "named");
    CHECK(!strcmp(tg_model_param_name(m, 0), "enc.weight") && !strcmp(tg_model_param_name(m, 1), "enc.bias"),
          "params renamed: %s %s", tg_model_param_name(m, 0), tg_model_param_name(m, 1));
    tg_model_add_batch_norm(m, 4, NULL);
    CHECK(tg_model_set_name(m, "enc") == TG_EINVAL && strstr(tg_last_error(), "already"), "duplicate refused");
    CHECK(tg_model_set_name(m, "bn") == TG_OK && !strcmp(tg_model_buffer_name(m, 0), "bn.running_mean"),
          "buffers renamed: %s", tg_model_buffer_name(m, 0));
    CHECK(!strcmp(tg_model_layer_name(m, 0), "enc") && !strcmp(tg_model_layer_name(m, 1), "bn") &&
              tg_model_layer_name(m, 2) == NULL,
          "layer names");
    tg_model_free(&m);
}

/* a checkpoint of a named model loads into the same model with an extra unnamed layer */
static void checkpoint_with_names(void)
{
    char dir[] = "/tmp/tg-names-XXXXXX", path[128];
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    tg_model *a = lenet(true, false), *b = lenet(true, true), *c = lenet(false, true);
    CHECK(tg_checkpoint_save(path, a, NULL, 3) == TG_OK, "save: %s", tg_last_error());
    int64_t epoch = 0;
    CHECK(tg_checkpoint_load(path, b, NULL, &epoch) == TG_OK && epoch == 3,
          "named: loads despite the inserted dropout: %s", tg_last_error());
    CHECK(tg_model_hash(a) != tg_model_hash(c), "different models differ");
    bool same = true;
    for (int i = 0; i < tg_model_param_count(a); i++)
        same &= tg_tensor_hash(tg_model_params(a)[i]) == tg_tensor_hash(tg_model_params(b)[i]);
    CHECK(same, "every parameter loaded");
    CHECK(tg_checkpoint_load(path, c, NULL, &epoch) != TG_OK,
          "unnamed with an inserted layer: names differ, refused");
    unlink(path);
    rmdir(dir);
    tg_model_free(&a);
    tg_model_free(&b);
    tg_model_free(&c);
}

int main(void)
{
    lenet_summary();
    names();
    checkpoint_with_names();
    return check_summary();
}
