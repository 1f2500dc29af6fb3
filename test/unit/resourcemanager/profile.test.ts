import t from "tap";
import {
  ANY_PROFILE,
  add,
  covers,
  describeProfile,
  equalProfiles,
  fits,
  isAny,
  profile,
  profileKey,
  subtract,
  sum,
} from "../../../components/resourcemanager/mod.ts";

t.test("fits: the slot must cover cpu, memory and every extended resource", async (t) => {
  const slot = profile(2, 2048, { gpu: 1 });
  t.ok(fits(profile(2, 2048, { gpu: 1 }), slot), "exactly the slot");
  t.ok(fits(profile(1, 512), slot), "smaller");
  t.notOk(fits(profile(2.5, 512), slot), "more cpu");
  t.notOk(fits(profile(1, 4096), slot), "more memory");
  t.notOk(fits(profile(1, 512, { gpu: 2 }), slot), "more gpus");
  t.notOk(fits(profile(1, 512, { fpga: 1 }), slot), "an extended resource the slot lacks");
  t.ok(fits(profile(1, 512, { fpga: 0 }), slot), "zero of a missing resource");
});

t.test(
  "ANY: as a requirement it fits every slot, as a slot it takes every requirement",
  async (t) => {
    t.ok(isAny(ANY_PROFILE));
    t.ok(isAny(profile(0, 0, { gpu: 0 })));
    t.notOk(isAny(profile(0, 0, { gpu: 1 })));
    t.ok(fits(ANY_PROFILE, profile(0.5, 128)));
    t.ok(fits(profile(8, 1 << 20, { gpu: 4 }), ANY_PROFILE));
    t.notOk(covers(ANY_PROFILE, profile(1, 1)), "covers is strict arithmetic");
    t.throws(() => {
      (ANY_PROFILE as { cpu: number }).cpu = 1;
    }, "ANY_PROFILE is frozen");
  },
);

t.test("add, subtract and sum keep extended resources and do not drift", async (t) => {
  const a = profile(0.1, 100, { gpu: 1 });
  const b = profile(0.2, 50, { gpu: 1, fpga: 2 });
  t.same(add(a, b), { cpu: 0.3, memoryMb: 150, extended: { gpu: 2, fpga: 2 } });
  t.same(subtract(add(a, b), b), { cpu: 0.1, memoryMb: 100, extended: { gpu: 1 } }, "zeros drop");
  t.same(subtract(a, b), { cpu: -0.1, memoryMb: 50, extended: { fpga: -2 } }, "may go negative");
  t.same(sum([a, b, a]), { cpu: 0.4, memoryMb: 250, extended: { gpu: 3, fpga: 2 } });
  t.ok(covers(profile(0.3, 150), add(profile(0.1, 100), profile(0.2, 50))), "0.1 + 0.2 fits 0.3");
});

t.test("profileKey is canonical; describeProfile reads well", async (t) => {
  t.equal(
    profileKey(profile(1, 512, { b: 1, a: 2, z: 0 })),
    profileKey(profile(1, 512, { a: 2, b: 1 })),
  );
  t.ok(equalProfiles(profile(1, 512), { cpu: 1, memoryMb: 512, extended: {} }));
  t.notOk(equalProfiles(profile(1, 512), profile(1, 513)));
  t.equal(describeProfile(ANY_PROFILE), "any");
  t.equal(describeProfile(profile(1, 512, { gpu: 1 })), "cpu=1,memoryMb=512,gpu=1");
});
