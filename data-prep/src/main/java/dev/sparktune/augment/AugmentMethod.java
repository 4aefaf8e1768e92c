package dev.sparktune.augment;

/** The ways a training row can be copied with a rewritten text; {@link #label()} is the {@code aug_method} value. */
public enum AugmentMethod {
    /** Content words replaced by WordNet (English) or HanLP CoreSynonym (Chinese) synonyms. */
    SYNONYM("synonym"),
    /** Easy Data Augmentation operations: random swap, insertion of a synonym, deletion (Wei &amp; Zou 2019). */
    EDA("eda"),
    /** Translated to a pivot language and back by a {@link Translator}. */
    BACK_TRANSLATION("back_translation");

    private final String label;

    AugmentMethod(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }
}
