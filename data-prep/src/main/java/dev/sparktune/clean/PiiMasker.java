package dev.sparktune.clean;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Replaces personal data in text with mask tokens ({@code <EMAIL>}, {@code <PHONE>}, {@code <CARD>}, {@code <ID>}
 * by default). Masking errs on the side of leaving numbers alone: dates, IP addresses, decimals, amounts with
 * thousands separators, short numbers and digit groups that fail a card's Luhn check or an ID's check digit are
 * kept.
 */
public final class PiiMasker implements Serializable {
    private static final long serialVersionUID = 1L;

    /**
     * The local part and '@' of an address, then the run of characters a domain is made of; which prefix of that run
     * is the domain is decided by {@link #domainEnd}, a loop rather than a repeated regex group, so that a long
     * dotted run cannot grow the stack (issue 19). Together they match what
     * {@code (?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@LABEL(?:\.LABEL)*\.[A-Za-z]{2,}(?![\w-])} matches, LABEL
     * being {@code [A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?}.
     */
    private static final Pattern EMAIL_START = Pattern.compile(
            "(?<![\\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*+@([A-Za-z0-9.-]*+)");
    private static final Pattern DATE = Pattern.compile(
            "\\d{4}[-./]\\d{1,2}[-./]\\d{1,2}|\\d{1,2}[-./]\\d{1,2}[-./](?:\\d{4}|\\d{2})");
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(?:\\.\\d{1,3}){3}");
    private static final Pattern SSN_SHAPE = Pattern.compile("\\d{3}-\\d{2}-\\d{4}");
    private static final Pattern SSN = Pattern.compile("(?!000|666|9\\d\\d)\\d{3}-(?!00)\\d{2}-(?!0000)\\d{4}");
    private static final Pattern CN_RESIDENT_ID = Pattern.compile("\\d{17}[\\dXx]");
    private static final Pattern CARD_SHAPE = Pattern.compile("\\d++(?:[ -]\\d++)*+");
    private static final Pattern GROUP = Pattern.compile("\\d+");

    private final EnumMap<PiiKind, String> masks;

    /** Masks the kinds that are keys of {@code masks}, each with its token. */
    public PiiMasker(Map<PiiKind, String> masks) {
        this.masks = masks.isEmpty() ? new EnumMap<>(PiiKind.class) : new EnumMap<>(masks);
    }

    public boolean isEnabled() {
        return !masks.isEmpty();
    }

    public String mask(String s) {
        if (s == null || masks.isEmpty()) {
            return s;
        }
        String t = s;
        String emailMask = masks.get(PiiKind.EMAIL);
        if (emailMask != null && t.indexOf('@') >= 0) {
            t = maskEmails(t, emailMask);
        }
        if (masks.containsKey(PiiKind.PHONE) || masks.containsKey(PiiKind.CARD) || masks.containsKey(PiiKind.ID)) {
            t = maskNumbers(t);
        }
        return t;
    }

    private static String maskEmails(String s, String token) {
        Matcher m = EMAIL_START.matcher(s);
        StringBuilder out = null;
        int last = 0;
        int from = 0;
        while (from < s.length() && m.find(from)) {
            int end = domainEnd(s, m.start(1), m.end(1));
            if (end < 0) {
                from = m.start() + 1; // no domain here; an address may still start further on
                continue;
            }
            if (out == null) {
                out = new StringBuilder(s.length());
            }
            out.append(s, last, m.start()).append(token);
            last = end;
            from = end;
        }
        return out == null ? s : out.append(s, last, s.length()).toString();
    }

    /**
     * Where the domain that starts at {@code from} ends, or -1 when there is none: dot-separated labels of
     * {@code s[from, runEnd)} (letters, digits, inner hyphens), at least two, the last all letters and at least two
     * long and not followed by a word character or hyphen; the most such labels, as the greedy regex took.
     */
    static int domainEnd(String s, int from, int runEnd) {
        int best = -1;
        int labels = 0;
        int start = from;
        while (start < runEnd) {
            int end = s.indexOf('.', start);
            end = end < 0 || end > runEnd ? runEnd : end;
            boolean letters = end - start >= 2;
            for (int i = start; i < end && letters; i++) {
                letters = isAsciiLetter(s.charAt(i));
            }
            labels++;
            if (labels >= 2 && letters && (end < runEnd || end == s.length() || !isWordOrHyphen(s.charAt(end)))) {
                best = end;
            }
            boolean wholeLabel = end > start && isAsciiAlnum(s.charAt(start)) && isAsciiAlnum(s.charAt(end - 1));
            if (!wholeLabel || end == runEnd) {
                break;
            }
            start = end + 1;
        }
        return best;
    }

    private String maskNumbers(String s) {
        StringBuilder out = null;
        int last = 0;
        int from = 0;
        int[] found;
        while ((found = nextNumber(s, from)) != null) {
            from = found[1];
            PiiKind kind = classify(s.substring(found[0], found[1]));
            String token = kind == null ? null : masks.get(kind);
            if (token == null) {
                continue;
            }
            if (out == null) {
                out = new StringBuilder(s.length());
            }
            out.append(s, last, found[0]).append(token);
            last = found[1];
        }
        if (out == null) {
            return s;
        }
        return out.append(s, last, s.length()).toString();
    }

    /**
     * The next candidate personal number at or after {@code from} as {start, end}, or null: a run of digit groups
     * joined by single separators, optionally with a leading '+', parenthesised area codes and a trailing X (Chinese
     * IDs). It may not start inside a word, decimal, URL path or address, nor stop before one.
     *
     * <p>A hand-written scan with the matches of the regex it replaces,
     * {@code (?<![\w.,/@+-])\+?(?:\(\d{1,4}\)|\d+)(?:[ .-]?(?:\(\d{1,4}\)|\d+))*[Xx]?(?![\w@/]|[.,]\d)}, whose
     * repeated group made Java's regex engine recurse once per digit group, so that a 6 KB price list overflowed a
     * task's stack (issue 19). Like the greedy regex it takes the most groups whose end may end a number, and
     * there a trailing X before none.
     */
    static int[] nextNumber(String s, int from) {
        for (int start = from; start < s.length(); start++) {
            char c = s.charAt(start);
            if (c != '+' && c != '(' && !isAsciiDigit(c)) {
                continue;
            }
            if (start > 0 && mayNotPrecedeNumber(s.charAt(start - 1))) {
                continue;
            }
            int end = numberEnd(s, start);
            if (end >= 0) {
                return new int[] {start, end};
            }
        }
        return null;
    }

    private static int numberEnd(String s, int start) {
        int best = -1;
        int group = groupEnd(s, s.charAt(start) == '+' ? start + 1 : start);
        while (group >= 0) {
            if (group < s.length() && (s.charAt(group) == 'X' || s.charAt(group) == 'x') && mayEndNumber(s, group + 1)) {
                best = group + 1;
            } else if (mayEndNumber(s, group)) {
                best = group;
            }
            int next = group;
            if (next < s.length() && (s.charAt(next) == ' ' || s.charAt(next) == '.' || s.charAt(next) == '-')) {
                next++;
            }
            group = groupEnd(s, next);
        }
        return best;
    }

    /** The end of the digit group ({@code \d+}, or {@code (\d{1,4})}) that starts at {@code i}, or -1. */
    private static int groupEnd(String s, int i) {
        if (i >= s.length()) {
            return -1;
        }
        boolean parenthesised = s.charAt(i) == '(';
        int j = parenthesised ? i + 1 : i;
        int digitsFrom = j;
        while (j < s.length() && isAsciiDigit(s.charAt(j))) {
            j++;
        }
        int digits = j - digitsFrom;
        if (!parenthesised) {
            return digits > 0 ? j : -1;
        }
        return digits >= 1 && digits <= 4 && j < s.length() && s.charAt(j) == ')' ? j + 1 : -1;
    }

    /** {@code (?![\w@/]|[.,]\d)} at {@code end}. */
    private static boolean mayEndNumber(String s, int end) {
        if (end >= s.length()) {
            return true;
        }
        char c = s.charAt(end);
        if (isWord(c) || c == '@' || c == '/') {
            return false;
        }
        return !((c == '.' || c == ',') && end + 1 < s.length() && isAsciiDigit(s.charAt(end + 1)));
    }

    /** {@code [\w.,/@+-]}: a number does not start right after one of these. */
    private static boolean mayNotPrecedeNumber(char c) {
        return isWord(c) || c == '.' || c == ',' || c == '/' || c == '@' || c == '+' || c == '-';
    }

    /** Java's regex {@code \w} (without UNICODE_CHARACTER_CLASS). */
    private static boolean isWord(char c) {
        return isAsciiAlnum(c) || c == '_';
    }

    private static boolean isWordOrHyphen(char c) {
        return isWord(c) || c == '-';
    }

    private static boolean isAsciiAlnum(char c) {
        return isAsciiLetter(c) || isAsciiDigit(c);
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    private static boolean isAsciiDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /** The kind of personal number {@code candidate} is, or null for an ordinary number. */
    static PiiKind classify(String candidate) {
        String digits = candidate.replaceAll("[^0-9Xx]", "");
        int n = digits.length();
        if (n < 7 || DATE.matcher(candidate).matches() || IPV4.matcher(candidate).matches()) {
            return null;
        }
        if (SSN.matcher(candidate).matches()
                || (CN_RESIDENT_ID.matcher(candidate).matches() && chineseIdCheckDigitValid(candidate))) {
            return PiiKind.ID;
        }
        if (SSN_SHAPE.matcher(candidate).matches()) {
            return null; // the shape of an SSN that cannot be issued: no phone number is written 3-2-4
        }
        if (digits.indexOf('X') >= 0 || digits.indexOf('x') >= 0) {
            return null;
        }
        boolean plus = candidate.startsWith("+");
        if (!plus && n >= 13 && n <= 19 && CARD_SHAPE.matcher(candidate).matches() && luhnValid(digits)) {
            return PiiKind.CARD;
        }
        return looksLikePhone(candidate, n, plus) ? PiiKind.PHONE : null;
    }

    private static boolean looksLikePhone(String candidate, int digitCount, boolean plus) {
        if (digitCount > 15) {
            return false;
        }
        List<String> groups = new ArrayList<>();
        Matcher g = GROUP.matcher(candidate);
        while (g.find()) {
            groups.add(g.group());
        }
        if (groups.size() == 1) {
            // one unseparated run: a phone only when as long as a full national number
            return digitCount >= 10 || plus;
        }
        if (groups.get(0).length() > 4) {
            return false;
        }
        boolean allThree = true;
        for (int i = 1; i < groups.size(); i++) {
            int len = groups.get(i).length();
            if (len < 2 || len > 4) {
                return false;
            }
            allThree &= len == 3;
        }
        boolean parenthesised = candidate.indexOf('(') >= 0;
        boolean dashOrDot = candidate.indexOf('-') >= 0 || candidate.indexOf('.') >= 0;
        if (allThree && !parenthesised && !plus && candidate.indexOf('-') < 0) {
            return false; // 1.234.567 or 12 345 678: an amount with thousands separators
        }
        // space-separated short groups are phone numbers only with a marker a list of scores does not have
        return plus || parenthesised || dashOrDot || candidate.startsWith("0") || digitCount >= 10;
    }

    /** The Luhn (mod 10) check every payment card number passes. */
    static boolean luhnValid(String digits) {
        int sum = 0;
        boolean twice = false;
        for (int i = digits.length() - 1; i >= 0; i--) {
            int d = digits.charAt(i) - '0';
            if (twice) {
                d *= 2;
                if (d > 9) {
                    d -= 9;
                }
            }
            sum += d;
            twice = !twice;
        }
        return sum % 10 == 0;
    }

    /** GB 11643-1999: ISO 7064 MOD 11-2 over the first 17 digits, 'X' standing for 10. */
    static boolean chineseIdCheckDigitValid(String id) {
        int sum = 0;
        for (int i = 0; i < 17; i++) {
            int weight = (1 << (17 - i)) % 11;
            sum += (id.charAt(i) - '0') * weight;
        }
        int check = (12 - sum % 11) % 11;
        char last = Character.toUpperCase(id.charAt(17));
        return check == 10 ? last == 'X' : last == (char) ('0' + check);
    }
}
