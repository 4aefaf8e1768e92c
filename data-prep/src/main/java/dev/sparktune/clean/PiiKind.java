package dev.sparktune.clean;

import java.util.Locale;

/** The kinds of personal data the clean stage can mask, each with its default mask token. */
public enum PiiKind {
    /** E-mail addresses. */
    EMAIL("<EMAIL>"),
    /** Telephone numbers, national or international, 7 to 15 digits (E.164's limit). */
    PHONE("<PHONE>"),
    /** Payment card numbers: 13 to 19 digits that pass the Luhn check. */
    CARD("<CARD>"),
    /** National ID numbers: US social security numbers and Chinese resident ID numbers (with their check digit). */
    ID("<ID>");

    private final String defaultMask;

    PiiKind(String defaultMask) {
        this.defaultMask = defaultMask;
    }

    public String defaultMask() {
        return defaultMask;
    }

    /** The kind a config names ({@code email}, {@code phone}, {@code card}, {@code id}), case-insensitive. */
    public static PiiKind parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown PII kind '" + name + "': use one of email, phone, card, id", e);
        }
    }
}
