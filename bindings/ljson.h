/* JSON and Lua values: the one conversion between them (jansson on the C side), used for API
 * objects handed to scripts, request bodies scripts build, and the pcaprun.json module (files
 * people read and diff: manifests, reports, state).
 *   Lua -> JSON: nil and json.null (cjson.null, a NULL light userdata) are null; a table is an
 *   array when its keys are exactly 1..n, or when it carries the json.array mark (then even
 *   empty); any other table is an object with string keys; integers and integral floats below
 *   2^53 are integers; other numbers must be finite. Cycles, functions and other types are
 *   refused, naming the path of the value at fault ("filter_v1.protocol: ...").
 *   JSON -> Lua: objects and arrays are tables, null is nil (or json.null where asked). */
#ifndef PCAPRUN_LJSON_H
#define PCAPRUN_LJSON_H
#include <jansson.h>
#include <lua.h>

/* Pushes a jansson value as a Lua value (null as nil). [-0, +1, m] */
void l_pushjson(lua_State *L, const json_t *v);
/* l_pushjson, then json_decref(v), also when the conversion runs out of memory (the error is
 * raised after v is freed). [-0, +1, m] */
void l_pushjson_free(lua_State *L, json_t *v);
/* Converts the Lua value at idx to JSON. On a value that cannot be converted, returns NULL and
 * writes the reason and the dotted path into why. [-0, +0, m] */
json_t *l_tojson(lua_State *L, int idx, char *why, size_t size);
int luaopen_pcaprun_json(lua_State *L);

#endif
