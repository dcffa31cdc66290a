/** Python for nbdsh scripts: `expect(errno, h.method, *args)` asserts that the call fails with that errno. */
export const NBDSH_EXPECT = `
def expect(err, f, *args):
    try:
        f(*args)
    except nbd.Error as e:
        assert e.errno == err, (e.errno, e.string)
        return
    raise AssertionError("%s succeeded" % f.__name__)
`;
