/*
 * Status conditions as JSON (see conditions.h).
 */
#include <string.h>

#include "lib/conditions.h"

json_t *k1s_cond_get(const json_t *status, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && !strcmp(t, type))
            return c;
    }
    return NULL;
}

json_t *k1s_cond_ensure(json_t *status, const char *type)
{
    json_t *conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    json_t *c = k1s_cond_get(status, type);
    if (!c) {
        c = json_pack("{s:s}", "type", type);
        json_array_append_new(conds, c);
    }
    return c;
}
