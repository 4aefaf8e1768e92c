package dev.sparktune.doctor;

/**
 * The outcome of one {@code sparktune doctor} check.
 *
 * @param name   what was checked, e.g. "PyTorch"
 * @param passed whether it works
 * @param detail what was found (versions, timings) or what went wrong
 * @param fix    what to do about a failure; empty when passed
 */
public record CheckResult(String name, boolean passed, String detail, String fix) {

    static CheckResult pass(String name, String detail) {
        return new CheckResult(name, true, detail, "");
    }

    static CheckResult fail(String name, String detail, String fix) {
        return new CheckResult(name, false, detail, fix);
    }
}
