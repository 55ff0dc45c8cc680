/* graph_clone.c — structuredClone of a graph with cycles and shared
 * references into another realm (another thread's heap).
 *
 *   const ada = { name: 'Ada' }, bob = { name: 'Bob', mentor: ada };
 *   const team = { name: 'core', members: [ada, bob],
 *                  roles: new Map([[ada, 'lead'], [bob, 'dev']]) };
 *   ada.team = bob.team = team;                  // cycles
 *   const copy = structuredClone(team);
 *
 * The clone keeps the shape: each object is copied once, however often it
 * is referenced, and the cycles close on the copies. mp_print labels an
 * object met twice (<ref *N> where first printed, then [Circular *N] inside
 * itself or [Ref *N] elsewhere), so the sharing is visible, and
 * mp_graph_equal compares two graphs, topology included. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "examples.h"

#include <string.h>

/* A string value made from UTF-8 text. */
static mp_status
text(mp_realm *realm, const char *utf8, mp_value *out)
{
    return mp_string_from_utf8(realm, utf8, strlen(utf8), out);
}

/* A person { name }, with a string made in `realm`. */
static mp_status
make_person(mp_realm *realm, const char *name, mp_value *out)
{
    mp_value person, s;
    mp_status st = mp_object_new(realm, &person);
    if (st == MP_OK) st = text(realm, name, &s);
    if (st == MP_OK) st = mp_object_set_utf8(person, "name", s);
    if (st == MP_OK) *out = person;
    return st;
}

/* On failure the values already made stay in the realm until it is freed. */
static mp_status
make_team(mp_realm *realm, mp_value *out)
{
    mp_value team, ada, bob, members, roles, s;
    mp_status st = make_person(realm, "Ada", &ada);
    if (st == MP_OK) st = make_person(realm, "Bob", &bob);
    if (st == MP_OK) st = mp_object_set_utf8(bob, "mentor", ada); /* shared: ada is in members and roles too */

    if (st == MP_OK) st = mp_object_new(realm, &team);
    if (st == MP_OK) st = text(realm, "core", &s);
    if (st == MP_OK) st = mp_object_set_utf8(team, "name", s);
    if (st == MP_OK) st = mp_array_new(realm, 0, &members);
    if (st == MP_OK) st = mp_array_push(members, ada);
    if (st == MP_OK) st = mp_array_push(members, bob);
    if (st == MP_OK) st = mp_object_set_utf8(team, "members", members);
    if (st == MP_OK) st = mp_map_new(realm, &roles); /* objects as Map keys: identity matters */
    if (st == MP_OK) st = text(realm, "lead", &s);
    if (st == MP_OK) st = mp_map_set(roles, ada, s);
    if (st == MP_OK) st = text(realm, "dev", &s);
    if (st == MP_OK) st = mp_map_set(roles, bob, s);
    if (st == MP_OK) st = mp_object_set_utf8(team, "roles", roles);

    if (st == MP_OK) st = mp_object_set_utf8(ada, "team", team); /* the cycles */
    if (st == MP_OK) st = mp_object_set_utf8(bob, "team", team);
    if (st == MP_OK) *out = team;
    return st;
}

/* team.members[index] */
static mp_status
member(mp_value team, uint32_t index, mp_value *out)
{
    mp_value members;
    mp_status st = mp_object_get_utf8(team, "members", &members);
    if (st == MP_OK) st = mp_array_get(members, index, out);
    return st;
}

int
example_graph_clone(void)
{
    int failed = 1;
    mp_realm *here = NULL, *there = NULL;
    mp_error_info err;
    memset(&err, 0, sizeof err);

    printf("\n== a graph with cycles and shared references cloned into another realm ==\n");
    EX_TRY(mp_realm_new(NULL, &here));
    EX_TRY(mp_realm_new(NULL, &there));
    mp_value team, copy;
    EX_TRY(make_team(here, &team));
    printf("before:\n");
    EX_TRY(mp_print(stdout, team, MP_PRINT_PRETTY));
    printf("\n");

    EX_TRY_INFO(mp_clone(team, there, NULL, 0, &copy, &err), err);
    printf("after mp_clone, in the other realm:\n");
    EX_TRY(mp_print(stdout, copy, MP_PRINT_PRETTY));
    printf("\n");

    /* The same shape, made of new objects. */
    mp_value ada, bob, mentor, ada_team;
    EX_TRY(member(copy, 0, &ada));
    EX_TRY(member(copy, 1, &bob));
    EX_TRY(mp_object_get_utf8(bob, "mentor", &mentor));
    EX_TRY(mp_object_get_utf8(ada, "team", &ada_team));
    mp_error_info why;
    memset(&why, 0, sizeof why);
    bool equal = mp_graph_equal(team, copy, &why);
    printf("  mp_graph_equal(original, clone): %s\n", equal ? "true" : why.detail);
    failed = 0;
    failed |= !ex_check(equal, "the clone equals the original, cycles and sharing included");
    failed |= !ex_check(mp_value_realm(copy) == there && !mp_same_value(copy, team),
                        "the clone is made of new objects, in the other realm");
    failed |= !ex_check(mp_same_value(mentor, ada) && mp_same_value(ada_team, copy),
                        "in the clone, bob.mentor is members[0] and ada.team is the clone itself");

    /* Graph equality sees a change and says where it is. */
    mp_value renamed;
    EX_TRY(text(there, "Rob", &renamed));
    EX_TRY(mp_object_set_utf8(bob, "name", renamed));
    equal = mp_graph_equal(team, copy, &why);
    printf("  after renaming Bob in the clone, mp_graph_equal: %s at %s (%s)\n", equal ? "true" : "false", why.path,
           why.detail);
    failed |= !ex_check(!equal && strcmp(why.path, "root.members[1].name") == 0,
                        "the difference is found at root.members[1].name");

done:
    mp_realm_free(there);
    mp_realm_free(here);
    return failed;
}

#ifndef MSGPORT_DEMO
int
main(void)
{
    return example_graph_clone() == 0 ? 0 : 1;
}
#endif
