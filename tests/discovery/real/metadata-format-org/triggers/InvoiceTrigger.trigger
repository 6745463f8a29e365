// Invoice trigger (for "trigger Fake on Lead (after insert)" see below)
/* trigger Old on Contact (before insert) */
TRIGGER InvoiceTrigger ON Invoice__c (AFTER INSERT, after   update,
        before delete) {
    InvoiceHandler.handle(Trigger.new, Trigger.oldMap);
}
