package dev.sparktune.testing;

/** Texts whose shape once made a backtracking regex recurse once per repetition (issue 19). */
public final class AdversarialText {
    private AdversarialText() {
    }

    /** A price list on one line, about {@code bytes} long: "Prices: 10 12 14 ... " (digit groups, single spaces). */
    public static String priceList(int bytes) {
        StringBuilder s = new StringBuilder("Prices: ");
        for (int i = 10; s.length() < bytes; i += 2) {
            s.append(i % 100 + 10).append(' ');
        }
        return s.append("each.").toString();
    }

    /** {@code unit} joined by {@code separator} until about {@code bytes} long ("1 2 3", "12-34-56", "a.b.c"). */
    public static String runOf(String unit, String separator, int bytes) {
        StringBuilder s = new StringBuilder(unit);
        while (s.length() < bytes) {
            s.append(separator).append(unit);
        }
        return s.toString();
    }

    /** An e-mail whose text/plain part sits inside {@code depth} nested multipart/mixed parts. */
    public static String nestedMime(int depth) {
        StringBuilder s = new StringBuilder("Subject: deep\nMIME-Version: 1.0\n");
        for (int i = 0; i < depth; i++) {
            s.append("Content-Type: multipart/mixed; boundary=\"b").append(i).append("\"\n\n--b").append(i).append('\n');
        }
        s.append("Content-Type: text/plain\n\nhello\n");
        for (int i = depth - 1; i >= 0; i--) {
            s.append("--b").append(i).append("--\n");
        }
        return s.toString();
    }
}
